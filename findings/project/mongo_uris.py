"""MongoDB connection strings (`mongodb://`, `mongodb+srv://`): credentials, TLS and the pool limit."""

from __future__ import annotations

from ..model import Area, Evidence, Finding, Severity
from .config_files import ConfigFile, UrlMention
from .mongo_clients import ClientOptions


def mongo_findings(config: ConfigFile, private_names: set[str], options: ClientOptions | None = None) -> list[Finding]:
    """The MongoDB URIs of a configuration file; `options`: what the code's clients set beside the URI they read
    from the configuration (tls, maxPoolSize, credentials), which the driver applies on top of it."""
    return mongo_url_findings(config.urls, private_names, options)


def mongo_url_findings(mentions: list[UrlMention], private_names: set[str],
                       options: ClientOptions | None = None) -> list[Finding]:
    found = []
    for mention in mentions:
        if not mention.url.is_mongo or mention.commented:
            continue
        url = options.applied_to(mention.url) if options is not None else mention.url
        # authMechanism (X.509, AWS IAM, OIDC, Kerberos) takes its identity from outside the URI.
        if url.username is None and "authmechanism" not in url.query:
            found.append(_finding(
                "project.mongo.no_credentials", mention, "security", Severity.HIGH,
                "MongoDB URI without credentials", "no user name and no authMechanism",
                "Either the server accepts clients without authentication (anyone who reaches it reads and writes "
                "everything), or the application cannot log in.",
                "Turn on authorization on the server and give the application its own user with the least roles, "
                "its password from a secret store."))
        tls_value = param[1].lower() if (param := url.first_param("tls", "ssl")) else None
        tls = tls_value == "true" if tls_value is not None else url.scheme == "mongodb+srv"  # +srv: TLS by default
        if not tls and url.is_local(private_names) is False:
            found.append(_finding(
                "project.mongo.no_tls", mention, "security", Severity.MEDIUM,
                "MongoDB URI to another machine without TLS",
                f"tls={tls_value}" if tls_value else "no tls=true (and not mongodb+srv)",
                "Queries, documents and credentials cross the network in clear text.",
                "Add tls=true to the URI, with the CA (tlsCAFile) when it is not a public one."))
        if "maxpoolsize" not in url.query:
            found.append(_finding(
                "project.mongo.pool_unset", mention, "capacity", Severity.LOW, "MongoDB URI leaves maxPoolSize unset",
                "no maxPoolSize: the driver's default is 100 per server",
                "Every client process may open 100 connections to each server: many processes or replicas add up to "
                "the server's connection limit, and each connection costs memory on the server.",
                "Set maxPoolSize to what one process needs, knowing how many processes run."))
    return found


def _finding(rule: str, mention: UrlMention, area: Area, severity: Severity, title: str, detail: str, impact: str,
             fix: str) -> Finding:
    return Finding(id=f"{rule}:{mention.location}", rule=rule, area=area, severity=severity,
                   title=f"{title} ({mention.location})",
                   evidence=[Evidence(subject=mention.url.masked, detail=detail, location=mention.location)],
                   impact=impact, fix=fix, source="project")
