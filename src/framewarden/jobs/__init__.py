"""Video moderation jobs and batch scans."""
