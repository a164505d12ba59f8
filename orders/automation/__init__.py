"""The orders automation wing: contingent orders (bracket / OCO / OTO), GTT, execution
algos (TWAP / VWAP / iceberg), scheduled orders, end of day (square-off) and re-entry, and
the tick side of triggers. It places, modifies and cancels through the core and registers
into the core's hooks (wiring.py, from OrdersConfig.ready()); the core never imports it.
"""
