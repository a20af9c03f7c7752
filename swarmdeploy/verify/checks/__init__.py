"""One module per verify check; swarmdeploy.verify.registry lists them all."""
