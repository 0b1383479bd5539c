"""Who is asking (principals), how they prove it (authentication) and what they may do (authorization).

Both fronts map a connection or request to a :class:`~logbroker.security.principal.Principal`;
the core decides what that principal may do, so a rule is written once for every front.
"""
