from cml_cli.app import main

main()
