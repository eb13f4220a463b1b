from tenant_migrator.cli import main

main()
