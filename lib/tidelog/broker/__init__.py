"""The server inside ``logd``: configuration now; listener, handlers and controller to come."""
