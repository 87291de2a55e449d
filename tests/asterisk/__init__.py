"""The asterisk tier: tests against a real Asterisk running asterisk-conf/."""
