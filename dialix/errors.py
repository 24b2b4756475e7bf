class DialixError(Exception):
    """A domain error with a stable code, shown to API clients as {"error": {"code", "message", "details"}}."""

    code = "error"
    http_status = 400
    default_message = "The request could not be processed."

    def __init__(self, message: str | None = None, *, details: dict | None = None) -> None:
        self.message = message or self.default_message
        self.details = details or {}
        super().__init__(self.message)


class NoCompany(DialixError):
    code, http_status = "no_company", 403
    default_message = "Your account does not belong to a company."
