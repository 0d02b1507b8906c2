from twinserve.cli import main

main()
