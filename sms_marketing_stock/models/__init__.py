from . import sms_flow
from . import sms_flow_enrollment
from . import sms_flow_message
from . import stock_picking
