from compiler.cli import main

if __name__ == "__main__":  # not when a spawned worker (runtime/helm.py) imports the main module as __mp_main__
    main()
