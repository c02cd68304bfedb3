tmp
