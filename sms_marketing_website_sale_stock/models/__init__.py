from . import product_product
from . import sms_flow
from . import sms_flow_enrollment
from . import sms_flow_message
from . import sms_sms
