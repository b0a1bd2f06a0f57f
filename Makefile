# Thin wrapper over dev.sh for those who type make.
.PHONY: demo test bench fuzz docs package tidy peers
demo test bench fuzz docs package tidy peers:
	./dev.sh $@
