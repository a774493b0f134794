from . import test_install
from . import test_consent
from . import test_subscribe_http
from . import test_checkout_consent
