"""Pages and fragments: views read and write rows and enqueue work, nothing more.

One module per idea: projects, shots (and their takes), sharing (links and what they
open), comments (and verdicts), teams (members, invitations), files (fragments and
media for members and link holders alike). Each view asks projects.access who may.
"""
