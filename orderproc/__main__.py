from orderproc.cli.main import run

run()
