"""`python -m haidang` is the `haidang` command."""

from haidang.cli import main

main()
