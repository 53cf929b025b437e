from framewarden.cli import run

run()
