# Thin wrapper over dev.sh for those who type make.
.PHONY: demo test bench fuzz docs package
demo test bench fuzz docs package:
	./dev.sh $@
