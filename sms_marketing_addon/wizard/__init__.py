from . import sms_consent_wizard
