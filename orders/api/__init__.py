"""The REST endpoints of orders (orders.py: orders; automation.py: GTT, algo pause/resume,
schedules), their input shapes (serializers.py) and what they share (common.py)."""
