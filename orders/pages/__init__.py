"""The server-rendered pages of orders (orders.py: blotter, ticket, order detail;
automation.py: GTT and schedules)."""
