"""`swarmdeploy deploy`: a deploy is a transaction that ends verified or with the previous release restored."""
