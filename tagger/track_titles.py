"""A track's "Artist - Title" from the tags its file already holds, for playlists.

The store keeps no artist or title (a scan reads audio, not tags), so this reads them with
mutagen, the library tagger writes its own tags with. Only the two frames are looked at, in the
way each tag kind spells them; a file that is missing, unreadable or untagged gives ``None`` and
the caller falls back to the file name.
"""

from __future__ import annotations

import os

# (artist key, title key) per tag kind, as mutagen's tag objects name them.
_KEYS: tuple[tuple[str, str], ...] = (
    ("TPE1", "TIT2"),           # ID3 (mp3, wav, aiff)
    ("\xa9ART", "\xa9nam"),     # MP4 (m4a, aac)
    ("artist", "title"),        # Vorbis comments (flac, ogg, opus)
    ("Author", "Title"),        # ASF (wma)
)


def _first_text(value: object) -> str:
    """The first text of a tag value: an ID3 frame, a list of strings or of ASF attributes."""
    value = getattr(value, "text", value)
    if isinstance(value, (list, tuple)):
        value = value[0] if value else ""
    return " ".join(str(value).split())


def artist_title(path: str | bytes | os.PathLike[str]) -> str | None:
    """``"Artist - Title"``, just the title, or ``None`` when the file's tags have no title."""
    import mutagen

    try:
        audio = mutagen.File(os.fsdecode(path))
    except Exception:  # mutagen raises many kinds for unreadable files; all mean "no tags"
        return None
    tags = getattr(audio, "tags", None)
    if not tags:
        return None
    for artist_key, title_key in _KEYS:
        try:
            title = _first_text(tags[title_key]) if title_key in tags else ""
            artist = _first_text(tags[artist_key]) if artist_key in tags else ""
        except (KeyError, ValueError, TypeError):
            continue
        if title:
            return f"{artist} - {title}" if artist else title
    return None
