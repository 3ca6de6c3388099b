from orderproc.entry import main

main()
