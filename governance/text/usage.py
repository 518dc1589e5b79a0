"""The usage line and a one-line description of every text command."""

from __future__ import annotations

USAGE: dict[str, tuple[str, str]] = {
    "propose": (
        "!propose <title> [method=…] [options=A | B | C] [deliberate=2d] [vote=3d] "
        "[quorum=50%] [threshold=2/3] [seats=2] [dots=5] [secret] [draft] "
        "[results=live|voted|closed] "
        "[ties=report|status-quo|lot] [strength=margins|winning-votes] "
        "[weights=workers:40 users:60] [class-quorum=workers:50%]",
        "Put a proposal to the community; the lines after the first are its body. "
        "Voting opens at once, unless deliberate= asks for a deliberation first or draft "
        "keeps it as a draft (for a moderator's !deliberate, or !open). "
        "Methods: majority, consent, consensus (on the proposal itself); choice, approval, "
        "ranked (instant-runoff), condorcet (Schulze), stv (seats=k), score (0–5), dots "
        "(options=…); advice, sense-check (non-binding). After the first setting every "
        "word shaped name= must be a setting, and one like a misspelt setting (qourum=) "
        "is refused anywhere; x=y in the title is text; quote a value that holds =.",
    ),
    "vote": (
        "!vote <id> <ballot> e.g. !vote 12 yes · object <reason> · A C · B > A > C · "
        "A=5 B=3 · A:3 B:2",
        "Cast or change your ballot.",
    ),
    "unvote": ("!unvote <id>", "Take your ballot back while voting is open."),
    "status": ("!status [id]", "Show a proposal, or what is open now."),
    "proposals": ("!proposals", "List the community's proposals."),
    "results": ("!results <id>", "Show the tally and its explanation."),
    # Deliberation
    "edit": (
        "!edit <id> title|body|options <new text>   e.g. !edit 12 options A | B | C",
        "Change a proposal before voting opens (its author or a moderator); "
        "every version is kept and shown by !status.",
    ),
    "deliberate": (
        "!deliberate <id> [timebox, e.g. 2d]",
        "Moderators: open a deliberation on a draft (timebox from now; without one, the "
        "community's vote length), or give a proposal in deliberation a new timebox from "
        "now. Voting opens when the timebox ends.",
    ),
    "summary": (
        "!summary <id> <text>",
        "Sum up a deliberation (its author or a moderator); a later summary replaces it "
        "as current, all are kept.",
    ),
    "open": (
        "!open <id>",
        "Open voting now on a draft or a proposal in deliberation (its author or a moderator).",
    ),
    "close": ("!close <id> <reason>", "Close voting early (moderators)."),
    "extend": ("!extend <id> <length> <reason>", "Move the end of voting later (moderators)."),
    "cancel": ("!cancel <id> <reason>", "Cancel an open proposal (moderators)."),
    "withdraw": ("!withdraw <id>", "Withdraw your own open proposal."),
    "outcome": (
        "!outcome <id> <statement>",
        "Record what happens now, who, by when (author or moderators).",
    ),
    "remind": (
        "!remind <id>",
        "Remind privately the voters who have not voted yet (moderators).",
    ),
    "undelivered": (
        "!undelivered",
        "List announcements and reminders that could not be delivered (admins).",
    ),
    # Narrative prompts
    "prompt": (
        "!prompt <question> [every=mon 10:00 | every=month 1 10:00 | cron=0 10 * * 1 | "
        "once=2026-12-01 18:00] [proposal=<id>] · !prompt pause|resume|end <prompt> · "
        "!prompt edit <prompt> <question>",
        "Ask a question for stories, now, once or on a schedule (moderators). Times are in "
        "the community's zone; each posting opens a thread. Pause, resume, end or edit it "
        "later; a question that starts with one of those words goes in double quotes.",
    ),
    "prompts": (
        "!prompts [all]",
        "List the prompts and when each is posted next (all: the ended ones too).",
    ),
    # Stories
    "story": (
        "!story [#prompt] <text> [share=public|community|anonymous] [proposal=<id>] "
        "[tags=a,b]   ·   !story edit|withdraw <story> …   ·   !story share <story> "
        "public|community|anonymous   ·   !story hide <story> <reason>",
        "Tell a story (the lines after the first are part of it); edit, withdraw or "
        "re-share your own at any time. Anonymous stories are given in a direct message "
        "and posted without your name. Moderators can hide a story, saying why.",
    ),
    "stories": (
        "!stories [words] [tag:<tag>] [prompt:<id>] [proposal:<id>] [page=2]",
        "List and search the community's stories.",
    ),
    "export": (
        "!export decisions [md|json|csv] · !export ballots <id> [json|csv] · "
        "!export stories [md|json] [public]",
        "A file for the record. decisions: every proposal with its method, policy, "
        "result, explanation and outcome, and the hash-chained decision log to verify "
        "it. ballots: a closed vote's anonymised ballots, to recount with another tool "
        "(with a secret vote's receipt codes). stories: the story archive as a Markdown "
        "community book, or JSON; public: only the stories shared publicly.",
    ),
    "bind": (
        "!bind <community> [confirm]",
        "Bind this room to a community (admins); confirm if asked: it mixes encrypted "
        "and unencrypted rooms.",
    ),
    "unbind": (
        "!unbind [<platform>:<room id>] [confirm]",
        "Unbind this room, or another room of the community, e.g. one that is gone "
        "(admins). What still waits to be announced there is given up (see !undelivered); "
        "the community's last room needs confirm.",
    ),
    "role": ("!role <member> <observer|member|moderator|admin>", "Set a member's role (admins)."),
    "class": ("!class <member> <class|none>", "Set a member's stakeholder class (admins)."),
    # Identity
    "link": (
        "!link [code]",
        "Link your accounts (another platform, or another account): !link gives a one-time "
        "code, privately; send !link <code> from the other account within 10 minutes. Both "
        "are then one member with one vote, keeping the role and class of the account "
        "that asked for the code.",
    ),
    "unlink": (
        "!unlink",
        "Split this account off your other accounts: it becomes a member of its own (no "
        "class, no ballots).",
    ),
    "erase": (
        "!erase <member>",
        "Erase a member (admins): names, accounts, ballots on open votes and stories go; "
        "the decision log keeps only the member's id.",
    ),
    "help": ("!help [command]", "List the commands, or explain one."),
}


def usage(command: str) -> str | None:
    """The usage line of a chat command; None for other callers of the parsers (the
    config file reuses them)."""
    entry = USAGE.get(command)
    return None if entry is None else entry[0]
