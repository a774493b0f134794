from . import test_order_delivered
