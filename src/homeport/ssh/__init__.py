"""One SSH listener: git-upload-pack and git-receive-pack for the accounts' keys."""
