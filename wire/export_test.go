package wire

// ParseFramedItemByItem is ParseNotification for a complete command-2 frame
// without the fast path of parseUsualItems: what every frame decodes to by
// the general item parser, to compare the fast path with.
func ParseFramedItemByItem(b []byte, n *Notification, opt ParseOptions) (int, error) {
	if len(b) < framedHeaderSize || Command(b[0]) != CommandFramed {
		return ParseNotification(b, n, opt)
	}
	end := framedHeaderSize + (int(b[1])<<24 | int(b[2])<<16 | int(b[3])<<8 | int(b[4]))
	if len(b) < end {
		return ParseNotification(b, n, opt)
	}
	*n = Notification{Command: CommandFramed}
	return parseItems(b[framedHeaderSize:end], n, opt, end)
}
