# Thin wrapper over dev.sh for those who type make.
.PHONY: demo test bench fuzz docs
demo test bench fuzz docs:
	./dev.sh $@
