"""The shared governance core: domain, service layer, store and text grammar."""
