from . import sms_consent_log
from . import sms_inbound_message
from . import res_company
from . import res_partner
from . import phone_blacklist
from . import website
from . import sms_marketing_api
