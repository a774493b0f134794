from . import sms_consent_wizard
from . import mailing_sms_test
from . import sms_composer
from . import sms_outbox_move
from . import sms_provider_account_test_sms
from . import sms_mailing_send_confirm
