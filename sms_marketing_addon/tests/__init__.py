from . import test_install
from . import test_consent
from . import test_subscribe_http
from . import test_checkout_consent
from . import test_outbox
from . import test_mailing_queue
from . import test_segments
