"""The router: Debian's nginx puts each environment's app behind a host name.

Homeport owns nginx's configuration and process: Python renders the
configuration (`config`), and starts, reloads and stops nginx (`process`);
nginx itself does the proxying, streaming, keep-alive and WebSocket upgrades.
"""

from homeport.runtime.router.model import Redirect, RouteEntry, RouterError, Upstream
from homeport.runtime.router.process import Router, find_nginx

__all__ = ["Redirect", "RouteEntry", "Router", "RouterError", "Upstream", "find_nginx"]
