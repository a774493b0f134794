from . import main
from . import website_sale
from . import sms_flow
