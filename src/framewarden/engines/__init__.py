"""Where the stages run: in this process (the default, :mod:`framewarden.jobs.scan`) or on a
Ray cluster (:mod:`framewarden.engines.ray_scan`).  Every engine runs the same stage code;
only the runner differs (DESIGN.md section 7)."""
