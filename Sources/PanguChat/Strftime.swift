// C/Python strftime subset for `strftime_now(format)` (C locale names, local time zone).
import Foundation

private let monthNames = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
                          "October", "November", "December"]
private let dayNames = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]

/// Formats `date` in `timeZone` like Python's `datetime.strftime` in the C locale.
/// Supports %Y %y %m %d %e %H %I %M %S %p %B %b %h %A %a %j %w %u %F %T %D %%, and glibc's `%-X` (no padding).
func strftime(_ format: String, _ date: Date, timeZone: TimeZone = .current) -> String {
    var cal = Calendar(identifier: .gregorian)
    cal.timeZone = timeZone
    let c = cal.dateComponents([.year, .month, .day, .hour, .minute, .second, .weekday], from: date)
    let year = c.year ?? 1970, month = c.month ?? 1, day = c.day ?? 1
    let hour = c.hour ?? 0, minute = c.minute ?? 0, second = c.second ?? 0, weekday = (c.weekday ?? 1) - 1
    let yday = cal.ordinality(of: .day, in: .year, for: date) ?? 1
    var out = ""
    var it = Array(format)
    var i = 0
    func pad(_ v: Int, _ w: Int, _ noPad: Bool) -> String {
        let s = String(v)
        return noPad || s.count >= w ? s : String(repeating: "0", count: w - s.count) + s
    }
    while i < it.count {
        let ch = it[i]
        guard ch == "%", i + 1 < it.count else { out.append(ch); i += 1; continue }
        var spec = it[i + 1]
        var noPad = false
        i += 2
        if spec == "-", i < it.count { noPad = true; spec = it[i]; i += 1 }
        switch spec {
        case "Y": out += String(year)
        case "y": out += pad(year % 100, 2, noPad)
        case "m": out += pad(month, 2, noPad)
        case "d": out += pad(day, 2, noPad)
        case "e": out += noPad ? String(day) : (day < 10 ? " " : "") + String(day)
        case "H": out += pad(hour, 2, noPad)
        case "I": out += pad(hour % 12 == 0 ? 12 : hour % 12, 2, noPad)
        case "M": out += pad(minute, 2, noPad)
        case "S": out += pad(second, 2, noPad)
        case "p": out += hour < 12 ? "AM" : "PM"
        case "B": out += monthNames[month - 1]
        case "b", "h": out += String(monthNames[month - 1].prefix(3))
        case "A": out += dayNames[weekday]
        case "a": out += String(dayNames[weekday].prefix(3))
        case "j": out += pad(yday, 3, noPad)
        case "w": out += String(weekday)
        case "u": out += String(weekday == 0 ? 7 : weekday)
        case "F": out += "\(year)-\(pad(month, 2, false))-\(pad(day, 2, false))"
        case "T": out += "\(pad(hour, 2, false)):\(pad(minute, 2, false)):\(pad(second, 2, false))"
        case "D": out += "\(pad(month, 2, false))/\(pad(day, 2, false))/\(pad(year % 100, 2, false))"
        case "%": out += "%"
        default: out += "%" + (noPad ? "-" : "") + String(spec)
        }
    }
    it = []
    return out
}
