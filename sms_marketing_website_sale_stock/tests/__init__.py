from . import test_back_in_stock
