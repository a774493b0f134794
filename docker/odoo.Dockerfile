# Odoo 18 with the extra Python dependency of sms_marketing_addon.
# The official odoo:18 image (Ubuntu, PEP 668 managed Python) lacks `phonenumbers`.
FROM odoo:18

USER root
RUN pip3 install --no-cache-dir --break-system-packages phonenumbers
USER odoo
