from handover.cli.main import main

main()
