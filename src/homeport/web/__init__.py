"""HTTP face: API routes, /oauth2, and later the console, git and the installer."""
