// Untrusted text (from the guest: agent error messages, `ps` output) made safe to show on an
// operator's terminal, where escape sequences could move the cursor, rewrite earlier lines,
// change the window title or worse.
#pragma once

#include <string>
#include <string_view>

namespace kata {

/// `text` with every byte a terminal could act on shown as an escape: C0 controls (\x1b;
/// newline and tab are kept when `keepLines`), DEL (\x7f), C1 controls (U+0080..U+009F, as
/// \u009b) and bytes that are not valid UTF-8 (\xff). Valid printable UTF-8 is unchanged.
std::string printable(std::string_view text, bool keepLines = false);

/// For error messages: `text` in double quotes, printable() and with '"' and '\\' escaped,
/// cut after `maxShown` bytes with "...".
std::string quotedForError(std::string_view text, size_t maxShown = 64);

}  // namespace kata
