"""The live timeline: changes found once per project, fanned out to everyone watching."""
