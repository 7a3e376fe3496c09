"""Stores: the Store protocol and its backends; open_store picks one."""
