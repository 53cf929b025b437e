"""Text moderation shared by OCR, transcripts and chat."""
