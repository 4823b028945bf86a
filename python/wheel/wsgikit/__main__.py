"""python -m wsgikit: the same as the wsgikit command."""

from wsgikit import main

main()
