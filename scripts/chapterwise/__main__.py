from chapterwise.cli import main

raise SystemExit(main())
