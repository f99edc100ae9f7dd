// Vietnamese first, English second. One dictionary: key → [vi, en].
// Static pages carry data-i18n="key" (text) and data-i18n-attrs="attr:key;…";
// applyI18n() rewrites them in place, so switching language keeps forms intact.

const DICT = {
  // Common
  'app.name': ['diemcau', 'diemcau'],
  'app.tagline': ['Học tập chuyên đề trực tuyến', 'Online thematic study sessions'],
  'lang.group': ['Ngôn ngữ', 'Language'],
  'common.loading': ['Đang tải…', 'Loading…'],
  'common.save': ['Lưu', 'Save'],
  'common.saving': ['Đang lưu…', 'Saving…'],
  'common.cancel': ['Hủy', 'Cancel'],
  'common.close': ['Đóng', 'Close'],
  'common.confirm': ['Xác nhận', 'Confirm'],
  'common.edit': ['Sửa', 'Edit'],
  'common.delete': ['Xóa', 'Delete'],
  'common.search': ['Tìm', 'Search'],
  'common.clear': ['Xóa tìm kiếm', 'Clear search'],
  'common.copy': ['Sao chép', 'Copy'],
  'common.copied': ['Đã sao chép', 'Copied'],
  'common.copy_failed': ['Không sao chép được, hãy chọn và sao chép thủ công.', 'Could not copy; select and copy it by hand.'],
  'common.yes': ['Có', 'Yes'],
  'common.no': ['Không', 'No'],
  'common.none': ['—', '—'],
  'common.actions': ['Thao tác', 'Actions'],
  'common.optional': ['(không bắt buộc)', '(optional)'],
  'common.prev': ['Trang trước', 'Previous'],
  'common.next': ['Trang sau', 'Next'],
  'common.page': ['Trang {page}/{pages} · {total} mục', 'Page {page}/{pages} · {total} items'],
  'common.empty': ['Chưa có dữ liệu.', 'Nothing here yet.'],
  'common.back': ['Quay lại', 'Back'],
  'common.more': ['Xem thêm', 'Show more'],
  'common.done': ['Đã lưu thay đổi.', 'Changes saved.'],
  'common.home': ['Về trang chủ', 'Go to the home page'],
  'common.skip': ['Bỏ qua, đến nội dung chính', 'Skip to main content'],

  // Errors
  'err.network': ['Không kết nối được máy chủ. Kiểm tra mạng rồi thử lại.', 'Cannot reach the server. Check the network and try again.'],
  'err.unexpected': ['Máy chủ trả lời không như mong đợi (HTTP {status}).', 'Unexpected answer from the server (HTTP {status}).'],
  'err.auth.bad_credentials': ['Tên đăng nhập hoặc mật khẩu không đúng.', 'Wrong username or password.'],
  'err.auth.disabled': ['Tài khoản đã bị khóa.', 'This account is locked.'],
  'err.auth.required': ['Cần đăng nhập để thực hiện thao tác này.', 'Please sign in first.'],
  'err.auth.invalid_token': ['Phiên đăng nhập đã hết hạn hoặc không hợp lệ. Vui lòng đăng nhập lại.', 'Your session has expired. Please sign in again.'],
  'err.auth.forbidden': ['Bạn không có quyền thực hiện thao tác này.', 'You are not allowed to do this.'],
  'err.auth.csrf': ['Thiếu hoặc sai mã chống giả mạo (X-CSRF-Token). Hãy tải lại trang.', 'Missing or wrong anti-forgery token. Reload the page.'],
  'err.auth.weak_password': ['Mật khẩu phải có ít nhất 10 ký tự và không quá đơn giản.', 'The password needs at least 10 characters and must not be trivial.'],
  'err.operator.link_invalid': ['Đường dẫn điểm cầu không còn hiệu lực (đã được thay hoặc thu hồi). Hãy liên hệ ban tổ chức để nhận đường dẫn mới.', 'This connection point link is no longer valid (it was replaced or revoked). Contact the organizers for a new link.'],
  'err.operator.link_required': ['Cần mở bằng đường dẫn điểm cầu được cấp.', 'Open this page with the connection point link you were given.'],
  'err.session.not_open': ['Buổi học chưa mở điểm danh.', 'Check-in is not open for this session yet.'],
  'err.session.closed': ['Đã hết giờ điểm danh.', 'Check-in has closed.'],
  'err.session.ended': ['Buổi học đã kết thúc.', 'The session has ended.'],
  'err.member.unknown': ['Không tìm thấy mã thành viên.', 'Unknown member code.'],
  'err.member.outside_session': ['Thành viên không thuộc các đơn vị tham gia buổi học này.', 'This member is not in the units taking part in this session.'],
  'err.card.forged': ['Thẻ không hợp lệ: chữ ký không đúng (thẻ giả hoặc bị sửa).', 'Invalid card: the signature does not match (forged or altered).'],
  'err.card.invalid': ['Không đọc được mã trên thẻ thành viên.', 'Cannot read the member card.'],
  'err.checkin.wrong_session': ['Thao tác này thuộc một buổi học khác.', 'This operation belongs to another session.'],
  'err.checkin.wrong_point': ['Thao tác này thuộc một điểm cầu khác.', 'This operation belongs to another connection point.'],
  'err.checkin.bad_time': ['Thời gian trên thiết bị không hợp lệ. Hãy kiểm tra đồng hồ của máy.', 'The device time is not valid. Check the device clock.'],
  'err.checkin.method_invalid': ['Cách điểm danh không hợp lệ tại điểm cầu.', 'This check-in method is not allowed at a point.'],
  'err.checkin.not_found': ['Không có lượt điểm danh nào của thành viên này tại điểm cầu để hủy.', 'There is no check-in of this member at this point to undo.'],
  'err.checkin.undo_expired': ['Đã quá thời gian được hủy lượt điểm danh.', 'Too late to undo this check-in.'],
  'err.absence.checked_in': ['Thành viên đã điểm danh có mặt; hãy hủy lượt điểm danh trước khi báo vắng.', 'The member is checked in; undo the check-in before marking them absent.'],
  'err.headcount.invalid': ['Số người phải từ 0 đến 100.000.', 'The number must be from 0 to 100,000.'],
  'err.import.rejected': ['Tệp bị từ chối, không dòng nào được nhập.', 'The file was rejected; no line was imported.'],
  'err.required': ['Hãy nhập "{field}".', 'Please fill in "{field}".'],
  'err.too_short': ['"{field}" cần ít nhất {min} ký tự.', '"{field}" needs at least {min} characters.'],
  'err.url': ['"{field}" phải là địa chỉ bắt đầu bằng http:// hoặc https://.', '"{field}" must be an address starting with http:// or https://.'],
  'err.number_range': ['"{field}" phải là số nguyên từ {min} đến {max}.', '"{field}" must be a whole number from {min} to {max}.'],
  'err.invalid_value': ['Giá trị của "{field}" không hợp lệ.', 'The value of "{field}" is not valid.'],
  'err.password_mismatch': ['Hai lần nhập mật khẩu mới không khớp.', 'The two new passwords do not match.'],
  'err.file_required': ['Hãy chọn một tệp CSV.', 'Choose a CSV file.'],
  'err.server_message': ['Thông báo của máy chủ', 'Server message'],

  // Login
  'login.title': ['Đăng nhập', 'Sign in'],
  'login.lead': ['Dành cho ban tổ chức và quản lý đơn vị.', 'For organizers and unit managers.'],
  'login.username': ['Tên đăng nhập', 'Username'],
  'login.password': ['Mật khẩu', 'Password'],
  'login.submit': ['Đăng nhập', 'Sign in'],
  'login.required': ['Hãy nhập tên đăng nhập và mật khẩu.', 'Enter your username and password.'],
  'login.working': ['Đang đăng nhập…', 'Signing in…'],
  'login.operator_hint': ['Người phụ trách điểm cầu không cần đăng nhập: hãy mở đường dẫn điểm cầu do ban tổ chức gửi.', 'Connection point operators do not sign in: open the point link the organizers sent you.'],
  'login.api_docs': ['Tài liệu API', 'API documentation'],

  // Shell
  'nav.label': ['Các mục chính', 'Main sections'],
  'nav.sessions': ['Buổi học', 'Sessions'],
  'nav.units': ['Đơn vị', 'Units'],
  'nav.members': ['Thành viên', 'Members'],
  'nav.accounts': ['Tài khoản', 'Accounts'],
  'nav.docs': ['Tài liệu API', 'API docs'],
  'shell.logout': ['Đăng xuất', 'Sign out'],
  'shell.account': ['Tài khoản đang đăng nhập', 'Signed-in account'],
  'shell.all_units': ['Toàn bộ đơn vị', 'All units'],

  // Roles, kinds, categories, statuses (codes from the API)
  'role.organizer': ['Ban tổ chức', 'Organizer'],
  'role.manager': ['Quản lý đơn vị', 'Unit manager'],
  'kind.province': ['Tỉnh', 'Province'],
  'kind.district': ['Huyện', 'District'],
  'kind.commune': ['Xã', 'Commune'],
  'kind.ward': ['Phường', 'Ward'],
  'kind.special_zone': ['Đặc khu', 'Special zone'],
  'kind.party_committee': ['Đảng bộ', 'Party committee'],
  'kind.agency': ['Cơ quan', 'Agency'],
  'kind.cell': ['Chi bộ', 'Party cell'],
  'kind.other': ['Khác', 'Other'],
  'category.cadre': ['Cán bộ', 'Cadre'],
  'category.party_member': ['Đảng viên', 'Party member'],
  'category.civil_servant': ['Công chức', 'Civil servant'],
  'category.public_employee': ['Viên chức', 'Public employee'],
  'category.worker': ['Người lao động', 'Worker'],
  'category.guest': ['Khách, Nhân dân', 'Guest, public'],
  'status.scheduled': ['Đã lên lịch', 'Scheduled'],
  'status.open': ['Đang mở điểm danh', 'Check-in open'],
  'status.live': ['Đang diễn ra', 'Live'],
  'status.ended': ['Đã kết thúc', 'Ended'],
  'pointkind.video': ['Phòng họp trực tuyến', 'Video-conference room'],
  'pointkind.broadcast': ['Theo dõi truyền hình', 'Following the TV broadcast'],

  // Sessions
  'sessions.title': ['Buổi học tập chuyên đề', 'Thematic study sessions'],
  'sessions.new': ['Tạo buổi học', 'New session'],
  'sessions.empty': ['Chưa có buổi học nào.', 'No session yet.'],
  'sessions.theme': ['Chủ đề', 'Theme'],
  'sessions.description': ['Mô tả', 'Description'],
  'sessions.host': ['Đơn vị chủ trì', 'Host unit'],
  'sessions.host_code': ['Mã đơn vị chủ trì', 'Host unit code'],
  'sessions.scope': ['Phạm vi tham gia', 'Participating units'],
  'sessions.scope_code': ['Mã đơn vị phạm vi tham gia', 'Participating subtree (unit code)'],
  'sessions.scope_hint': ['Đơn vị gốc của các đơn vị tham gia; để trống là đơn vị chủ trì.', 'The root of the units taking part; empty means the host unit.'],
  'sessions.time': ['Thời gian', 'Time'],
  'sessions.starts_at': ['Bắt đầu', 'Starts'],
  'sessions.ends_at': ['Kết thúc', 'Ends'],
  'sessions.checkin_opens_at': ['Mở điểm danh', 'Check-in opens'],
  'sessions.checkin_closes_at': ['Đóng điểm danh', 'Check-in closes'],
  'sessions.checkin_window': ['Khung giờ điểm danh', 'Check-in window'],
  'sessions.checkin_hint': ['Để trống: mở trước giờ bắt đầu 1 tiếng, đóng khi kết thúc.', 'Empty: opens one hour before the start, closes at the end.'],
  'sessions.time_hint': ['Giờ Việt Nam (UTC+7).', 'Vietnam time (UTC+7).'],
  'sessions.status': ['Trạng thái', 'Status'],
  'sessions.points': ['Điểm cầu', 'Points'],
  'sessions.broadcast': ['Phát sóng', 'Broadcast'],
  'sessions.tv_channel': ['Kênh truyền hình', 'TV channel'],
  'sessions.tv_channel_hint': ['Ví dụ: Kênh TN1 – Đài Phát thanh và Truyền hình tỉnh', 'e.g. TN1 – provincial radio and TV channel'],
  'sessions.air_time': ['Giờ phát sóng', 'Air time'],
  'sessions.stream_url': ['Địa chỉ phát trực tuyến', 'Live stream address'],
  'sessions.recording_url': ['Địa chỉ video ghi hình (tự học)', 'Recording address (self-study)'],
  'sessions.create': ['Tạo buổi học', 'Create session'],
  'sessions.created': ['Đã tạo buổi học.', 'Session created.'],
  'sessions.back': ['Danh sách buổi học', 'All sessions'],
  'sessions.edit': ['Sửa thông tin buổi học', 'Edit the session'],
  'sessions.status_actions': ['Chuyển trạng thái', 'Change status'],
  'sessions.to_open': ['Mở điểm danh', 'Open check-in'],
  'sessions.to_live': ['Bắt đầu', 'Start'],
  'sessions.to_ended': ['Kết thúc', 'End'],
  'sessions.confirm_status': ['Chuyển buổi học sang trạng thái "{status}"? Trạng thái chỉ đi tiếp, không quay lại được.', 'Move the session to "{status}"? Status only moves forward; this cannot be undone.'],
  'sessions.status_changed': ['Đã chuyển trạng thái.', 'Status changed.'],
  'sessions.not_found': ['Không tìm thấy buổi học.', 'Session not found.'],
  'sessions.open_link': ['Mở', 'Open'],

  // Points
  'points.title': ['Điểm cầu', 'Connection points'],
  'points.empty': ['Chưa có điểm cầu nào trong phạm vi của bạn.', 'No connection point in your scope yet.'],
  'points.name': ['Tên điểm cầu', 'Point name'],
  'points.unit': ['Đơn vị', 'Unit'],
  'points.unit_code': ['Mã đơn vị', 'Unit code'],
  'points.location': ['Địa điểm', 'Location'],
  'points.kind': ['Loại', 'Kind'],
  'points.capacity': ['Sức chứa', 'Capacity'],
  'points.operator': ['Người phụ trách', 'Operator'],
  'points.operator_name': ['Tên người phụ trách', 'Operator name'],
  'points.operator_phone': ['Số điện thoại người phụ trách', 'Operator phone'],
  'points.link': ['Đường dẫn', 'Link'],
  'points.link_active': ['Đang hiệu lực', 'Active'],
  'points.link_revoked': ['Đã thu hồi', 'Revoked'],
  'points.link_issued': ['cấp {time}', 'issued {time}'],
  'points.register': ['Đăng ký điểm cầu', 'Register a point'],
  'points.registered': ['Đã đăng ký điểm cầu "{name}".', 'Point "{name}" registered.'],
  'points.rotate': ['Cấp lại đường dẫn', 'New link'],
  'points.revoke': ['Thu hồi', 'Revoke'],
  'points.confirm_rotate': ['Cấp đường dẫn mới cho điểm cầu "{name}"? Đường dẫn cũ sẽ ngừng hoạt động ngay.', 'Make a new link for "{name}"? The old link stops working at once.'],
  'points.confirm_revoke': ['Thu hồi đường dẫn của điểm cầu "{name}"? Người phụ trách sẽ không mở được trang điểm cầu cho đến khi được cấp lại.', 'Revoke the link of "{name}"? The operator cannot open the point page until a new link is made.'],
  'points.revoked': ['Đã thu hồi đường dẫn.', 'Link revoked.'],
  'points.link_title': ['Đường dẫn điểm cầu', 'Connection point link'],
  'points.link_for': ['Đường dẫn cho điểm cầu "{name}"', 'Link for point "{name}"'],
  'points.link_once': ['Chỉ hiển thị một lần: hãy sao chép và gửi cho người phụ trách điểm cầu ngay. Máy chủ không lưu đường dẫn này nên không thể xem lại; nếu làm mất, hãy "Cấp lại đường dẫn".', 'Shown only once: copy it and send it to the point operator now. The server does not keep it and cannot show it again; if it is lost, make a new link.'],

  // Units
  'units.title': ['Cây đơn vị', 'Unit tree'],
  'units.search': ['Tìm đơn vị theo tên hoặc mã', 'Find a unit by name or code'],
  'units.search_hint': ['Gõ có dấu hoặc không dấu đều được.', 'Diacritics are optional.'],
  'units.results': ['{total} đơn vị phù hợp', '{total} matching units'],
  'units.no_results': ['Không tìm thấy đơn vị phù hợp.', 'No matching unit.'],
  'units.tree': ['Cây đơn vị', 'Unit tree'],
  'units.expand': ['Mở đơn vị cấp dưới của {name}', 'Show the subunits of {name}'],
  'units.pick': ['Chọn một đơn vị trong cây để xem chi tiết.', 'Choose a unit in the tree to see its details.'],
  'units.code': ['Mã đơn vị', 'Unit code'],
  'units.name': ['Tên đơn vị', 'Unit name'],
  'units.kind': ['Loại đơn vị', 'Kind'],
  'units.parent_code': ['Mã đơn vị cấp trên', 'Parent unit code'],
  'units.parent_hint': ['Để trống: đơn vị gốc (chỉ ban tổ chức).', 'Empty: a root unit (organizers only).'],
  'units.children': ['Đơn vị cấp dưới', 'Subunits'],
  'units.members': ['Thành viên (danh sách riêng)', 'Members (own roster)'],
  'units.expected': ['Số người dự kiến (đơn vị chưa có danh sách)', 'Expected head count (units without a roster)'],
  'units.breadcrumbs': ['Vị trí trong cây', 'Position in the tree'],
  'units.add_child': ['Thêm đơn vị cấp dưới', 'Add a subunit'],
  'units.add_root': ['Thêm đơn vị gốc', 'Add a root unit'],
  'units.edit': ['Sửa đơn vị', 'Edit unit'],
  'units.print_cards': ['In thẻ thành viên', 'Print member cards'],
  'units.delete_confirm': ['Xóa đơn vị "{name}"? Chỉ xóa được khi đơn vị không còn đơn vị cấp dưới, thành viên, tài khoản, buổi học hay điểm cầu.', 'Delete unit "{name}"? Only possible when it has no subunits, members, accounts, sessions or points.'],
  'units.deleted': ['Đã xóa đơn vị.', 'Unit deleted.'],
  'units.created': ['Đã tạo đơn vị "{name}".', 'Unit "{name}" created.'],
  'units.view_members': ['Xem thành viên', 'See members'],
  'units.import': ['Nhập đơn vị từ tệp CSV', 'Import units from CSV'],

  // Import (shared)
  'import.format': ['Dòng tiêu đề của tệp:', 'Header line of the file:'],
  'import.format_note': ['Tệp CSV UTF-8, phân cách bằng dấu phẩy (hoặc dấu chấm phẩy). Nhập tất cả hoặc không nhập gì: mã đã có sẽ được cập nhật.', 'UTF-8 CSV, comma (or semicolon) separated. All or nothing: existing codes are updated.'],
  'import.file': ['Tệp CSV', 'CSV file'],
  'import.submit': ['Nhập tệp', 'Import file'],
  'import.working': ['Đang nhập…', 'Importing…'],
  'import.ok': ['Đã nhập: {created} mới, {updated} cập nhật.', 'Imported: {created} new, {updated} updated.'],
  'import.ignored': ['Các cột không dùng đến: {columns}', 'Columns not read: {columns}'],
  'import.rejected': ['Tệp bị từ chối: không dòng nào được nhập. Hãy sửa các lỗi dưới đây rồi nhập lại cả tệp.', 'The file was rejected: nothing was imported. Fix the problems below and import the whole file again.'],
  'import.problems': ['Các lỗi trong tệp', 'Problems in the file'],
  'import.line': ['Dòng', 'Line'],
  'import.field': ['Cột', 'Column'],
  'import.code': ['Mã lỗi', 'Code'],
  'import.message': ['Nội dung', 'Message'],

  // Members
  'members.title': ['Danh sách thành viên', 'Member rosters'],
  'members.q': ['Họ tên hoặc mã thành viên', 'Name or member code'],
  'members.unit': ['Mã đơn vị', 'Unit code'],
  'members.subtree': ['Gồm cả đơn vị cấp dưới', 'Include subunits'],
  'members.category': ['Đối tượng', 'Category'],
  'members.all_categories': ['Tất cả đối tượng', 'All categories'],
  'members.code': ['Mã thành viên', 'Member code'],
  'members.full_name': ['Họ và tên', 'Full name'],
  'members.unit_col': ['Đơn vị', 'Unit'],
  'members.empty': ['Không có thành viên phù hợp.', 'No matching member.'],
  'members.add': ['Thêm thành viên', 'Add a member'],
  'members.edit': ['Sửa thành viên', 'Edit member'],
  'members.added': ['Đã thêm thành viên "{name}".', 'Member "{name}" added.'],
  'members.delete_confirm': ['Xóa "{name}" khỏi danh sách thành viên?', 'Remove "{name}" from the roster?'],
  'members.deleted': ['Đã xóa thành viên.', 'Member removed.'],
  'members.import': ['Nhập thành viên từ tệp CSV', 'Import members from CSV'],
  'members.filter': ['Lọc danh sách', 'Filter'],

  // Accounts
  'accounts.title': ['Tài khoản', 'Accounts'],
  'accounts.list': ['Tài khoản bạn quản lý', 'Accounts you manage'],
  'accounts.username': ['Tên đăng nhập', 'Username'],
  'accounts.username_hint': ['3–64 ký tự: chữ không dấu, số, dấu chấm, gạch dưới, gạch ngang.', '3–64 characters: a–z, digits, dot, underscore, hyphen.'],
  'accounts.display_name': ['Tên hiển thị', 'Display name'],
  'accounts.role': ['Vai trò', 'Role'],
  'accounts.unit': ['Đơn vị', 'Unit'],
  'accounts.unit_code': ['Mã đơn vị quản lý', 'Managed unit code'],
  'accounts.state': ['Trạng thái', 'State'],
  'accounts.active': ['Đang hoạt động', 'Active'],
  'accounts.locked': ['Đã khóa', 'Locked'],
  'accounts.lock': ['Khóa', 'Lock'],
  'accounts.unlock': ['Mở khóa', 'Unlock'],
  'accounts.confirm_lock': ['Khóa tài khoản "{name}"? Tài khoản sẽ bị đăng xuất khỏi mọi thiết bị.', 'Lock account "{name}"? It is signed out everywhere.'],
  'accounts.reset': ['Đặt lại mật khẩu', 'Reset password'],
  'accounts.reset_for': ['Đặt lại mật khẩu cho "{name}"', 'Reset the password of "{name}"'],
  'accounts.reset_done': ['Đã đặt mật khẩu mới. Tài khoản đã bị đăng xuất khỏi mọi thiết bị.', 'New password set; the account was signed out everywhere.'],
  'accounts.new_password': ['Mật khẩu mới', 'New password'],
  'accounts.password': ['Mật khẩu', 'Password'],
  'accounts.password_hint': ['Ít nhất 10 ký tự.', 'At least 10 characters.'],
  'accounts.create': ['Tạo tài khoản', 'Create account'],
  'accounts.created': ['Đã tạo tài khoản "{name}".', 'Account "{name}" created.'],
  'accounts.you': ['(bạn)', '(you)'],
  'accounts.my_password': ['Đổi mật khẩu', 'Change password'],
  'accounts.current_password': ['Mật khẩu hiện tại', 'Current password'],
  'accounts.confirm_password': ['Nhập lại mật khẩu mới', 'Repeat the new password'],
  'accounts.password_changed': ['Đã đổi mật khẩu. Các phiên đăng nhập khác đã bị đăng xuất.', 'Password changed. Other sessions were signed out.'],
  'accounts.empty': ['Chưa có tài khoản nào.', 'No account yet.'],

  // Tokens
  'tokens.title': ['Mã truy cập API', 'API tokens'],
  'tokens.lead': ['Dùng cho phần mềm khác gọi API thay mặt bạn: gửi "Authorization: Bearer <mã>".', 'For other software calling the API on your behalf: send "Authorization: Bearer <token>".'],
  'tokens.name': ['Tên (mục đích sử dụng)', 'Name (what it is for)'],
  'tokens.expires_in_days': ['Số ngày hiệu lực', 'Valid for (days)'],
  'tokens.expires_hint': ['1–3650; để trống là không hết hạn.', '1–3650; empty means it never expires.'],
  'tokens.created_at': ['Ngày tạo', 'Created'],
  'tokens.expires_at': ['Hết hạn', 'Expires'],
  'tokens.never': ['Không hết hạn', 'Never'],
  'tokens.create': ['Tạo mã truy cập', 'Create token'],
  'tokens.empty': ['Chưa có mã truy cập nào.', 'No API token yet.'],
  'tokens.confirm_delete': ['Thu hồi mã truy cập "{name}"? Phần mềm đang dùng mã này sẽ không gọi được API nữa.', 'Revoke token "{name}"? Software using it will no longer reach the API.'],
  'tokens.deleted': ['Đã thu hồi mã truy cập.', 'Token revoked.'],
  'tokens.new_title': ['Mã truy cập mới', 'New API token'],
  'tokens.once': ['Chỉ hiển thị một lần: hãy sao chép và cất giữ an toàn ngay. Máy chủ không lưu mã này nên không thể xem lại.', 'Shown only once: copy it and keep it safe now. The server does not keep it and cannot show it again.'],

  // Console (point operator)
  'console.title': ['Điểm cầu', 'Connection point'],
  'console.loading': ['Đang mở điểm cầu…', 'Opening the connection point…'],
  'console.point': ['Điểm cầu', 'Connection point'],
  'console.unit': ['Đơn vị', 'Unit'],
  'console.location': ['Địa điểm', 'Location'],
  'console.operator': ['Người phụ trách', 'Operator'],
  'console.kind': ['Loại điểm cầu', 'Kind'],
  'console.capacity': ['Sức chứa', 'Capacity'],
  'console.capacity_n': ['{n} người', '{n} people'],
  'console.session': ['Buổi học', 'Session'],
  'console.schedule': ['Thời gian', 'Schedule'],
  'console.checkin': ['Điểm danh', 'Check-in'],
  'console.status': ['Trạng thái', 'Status'],
  'console.tv': ['Kênh truyền hình', 'TV channel'],
  'console.air_time': ['Giờ phát sóng', 'Air time'],
  'console.stream': ['Xem trực tuyến', 'Watch the stream'],
  'console.placeholder_title': ['Điểm danh', 'Check-in'],
  'console.placeholder': ['Điểm danh sẽ mở khi buổi học mở điểm danh.', 'Check-in will open when the session opens check-in.'],
  'console.placeholder_open': ['Buổi học đang mở điểm danh. Chức năng điểm danh tại điểm cầu sẽ có trong bản cập nhật tới.', 'The session is open for check-in. Checking in at the point comes in the next update.'],
  'console.placeholder_ended': ['Buổi học đã kết thúc.', 'The session has ended.'],
  'console.no_link_title': ['Chưa có đường dẫn điểm cầu', 'No connection point link'],
  'console.invalid_title': ['Đường dẫn không còn hiệu lực', 'Link no longer valid'],
  'console.contact': ['Hãy liên hệ ban tổ chức để nhận đường dẫn mới.', 'Contact the organizers for a new link.'],
  'console.refresh': ['Tải lại', 'Refresh'],
  'console.updated': ['Cập nhật lúc {time}', 'Updated at {time}'],
  'console.forget': ['Gỡ điểm cầu khỏi máy này', 'Remove this point from this device'],
  'console.forget_confirm': ['Gỡ đường dẫn điểm cầu khỏi máy này? Muốn mở lại phải dùng đường dẫn được cấp.', 'Remove the point link from this device? You will need the link to open it again.'],
  'console.forgotten': ['Đã gỡ đường dẫn khỏi máy này.', 'The link was removed from this device.'],
  'console.offline': ['Mất kết nối tới máy chủ. Đang hiển thị thông tin đã tải trước đó.', 'No connection to the server. Showing what was loaded earlier.'],
  'console.conn_connecting': ['Đang kết nối…', 'Connecting…'],
  'console.conn_online': ['Trực tuyến', 'Online'],
  'console.conn_online_sending': ['Trực tuyến – đang gửi {n} thao tác', 'Online – sending {n} operations'],
  'console.conn_offline': ['Mất kết nối – đang lưu tạm {n} thao tác', 'Connection lost – {n} operations kept on this device'],
  'console.queue_kept': ['Còn {n} thao tác chưa gửi được, vẫn được lưu trên máy này. Chúng sẽ tự gửi khi mở đường dẫn mới của điểm cầu này trên chính máy này.', '{n} operations could not be sent yet; they are kept on this device and will be sent when the new link of this point is opened on this device.'],
  'console.storage_failed': ['Máy này không lưu tạm được (bộ nhớ trình duyệt đầy hoặc bị chặn). Đừng tải lại trang khi chưa gửi xong.', 'This device cannot keep the queue (browser storage full or blocked). Do not reload the page before everything is sent.'],
  'console.window_not_yet': ['Chưa đến giờ điểm danh (mở lúc {time}).', 'Check-in has not opened yet (opens at {time}).'],
  'console.window_closed': ['Đã hết giờ điểm danh (đóng lúc {time}).', 'Check-in has closed (closed at {time}).'],
  'console.count_label': ['Đã điểm danh tại điểm cầu:', 'Checked in at this point:'],
  'console.head_label': ['Người ngoài danh sách (khách, Nhân dân):', 'Not on any roster (guests, the public):'],
  'console.qr_title': ['Mã QR điểm danh', 'Check-in QR code'],
  'console.qr_alt': ['Mã QR điểm danh của điểm cầu', 'Check-in QR code of the connection point'],
  'console.qr_scan': ['Quét mã để điểm danh', 'Scan the code to check in'],
  'console.qr_hint': ['Mã tự đổi sau mỗi 20 giây; ảnh chụp mã gửi đi nơi khác không dùng được.', 'The code changes every 20 seconds; a photo of it sent elsewhere will not work.'],
  'console.qr_stale': ['Mã QR đã hết hạn vì mất kết nối. Mã mới sẽ hiện khi có mạng trở lại.', 'The QR code has expired because the connection is lost. A new one appears when the network returns.'],
  'console.project': ['Trình chiếu mã QR', 'Project the QR code'],
  'console.project_exit': ['Thoát trình chiếu', 'Exit projection'],
  'console.card_title': ['Quét thẻ thành viên', 'Scan a member card'],
  'console.card_label': ['Mã trên thẻ thành viên', 'Member card code'],
  'console.card_hint': ['Máy quét mã (USB, Bluetooth) tự nhập và nhấn Enter; cũng có thể dán mã rồi nhấn Ghi nhận.', 'A USB or Bluetooth scanner types the code and presses Enter; you can also paste it and press Record.'],
  'console.card_submit': ['Ghi nhận', 'Record'],
  'console.card_unreadable': ['Không đọc được mã thẻ. Mã thẻ thành viên có dạng DC1.<mã thành viên>.<chữ ký>.', 'Cannot read this card. A member card code looks like DC1.<member code>.<signature>.'],
  'console.card_forged': ['Thẻ không hợp lệ: chữ ký không đúng (thẻ giả hoặc bị sửa). Không ghi nhận.', 'Invalid card: the signature does not match (forged or altered). Not recorded.'],
  'console.card_already_queued': ['Đã ghi nhận, đang chờ gửi.', 'Already recorded, waiting to be sent.'],
  'console.camera': ['Quét thẻ bằng camera', 'Scan a card with the camera'],
  'console.camera_hint': ['Đưa mã QR trên thẻ vào khung hình.', 'Hold the QR code of the card in front of the camera.'],
  'console.camera_stop': ['Dừng quét', 'Stop scanning'],
  'console.camera_failed': ['Không mở được camera. Hãy cho phép dùng camera hoặc dùng ô nhập mã.', 'Cannot open the camera. Allow camera access or use the code field.'],
  'console.head_title': ['Người ngoài danh sách', 'People not on any roster'],
  'console.head_field': ['Số người ngoài danh sách (khách, Nhân dân)', 'People not on any roster (guests, the public)'],
  'console.head_submit': ['Báo số người', 'Report the number'],
  'console.head_invalid': ['Số người phải là số nguyên từ 0 đến 100.000.', 'The number must be a whole number from 0 to 100,000.'],
  'console.roster_title': ['Danh sách điểm danh', 'Attendance roster'],
  'console.roster_search': ['Tìm theo tên hoặc mã (gõ không dấu cũng được)', 'Find by name or code (diacritics optional)'],
  'console.roster_unavailable': ['Chưa tải được danh sách; sẽ tải khi có kết nối.', 'The roster is not loaded yet; it will load when connected.'],
  'console.roster_none': ['Đơn vị của điểm cầu chưa có danh sách thành viên. Vẫn có thể quét thẻ và báo số người.', 'The point\'s unit has no roster yet. Card scans and head counts still work.'],
  'console.roster_no_match': ['Không có thành viên phù hợp.', 'No matching members.'],
  'console.roster_shown': ['Hiển thị {shown}/{total} người', 'Showing {shown} of {total}'],
  'console.filter_group': ['Lọc danh sách', 'Filter the roster'],
  'console.filter_all': ['Tất cả', 'All'],
  'console.filter_all_n': ['Tất cả ({n})', 'All ({n})'],
  'console.filter_todo': ['Chưa điểm danh', 'Not checked in'],
  'console.filter_todo_n': ['Chưa điểm danh ({n})', 'Not checked in ({n})'],
  'console.filter_present': ['Đã điểm danh', 'Checked in'],
  'console.filter_present_n': ['Đã điểm danh ({n})', 'Checked in ({n})'],
  'console.filter_absent': ['Vắng', 'Absent'],
  'console.filter_absent_n': ['Vắng ({n})', 'Absent ({n})'],
  'console.state_none': ['Chưa điểm danh', 'Not checked in'],
  'console.state_pending_in': ['Có mặt – đang chờ gửi', 'Present – waiting to be sent'],
  'console.state_pending_absent': ['Vắng – đang chờ gửi', 'Absent – waiting to be sent'],
  'console.state_pending_undo': ['Đang chờ hủy', 'Cancellation waiting to be sent'],
  'console.state_in_here': ['Có mặt lúc {time}', 'Present since {time}'],
  'console.state_in_other': ['Đã điểm danh lúc {time} tại {point}', 'Checked in at {time} at {point}'],
  'console.state_absent': ['Vắng', 'Absent'],
  'console.state_absent_reason': ['Vắng: {reason}', 'Absent: {reason}'],
  'console.act_present': ['Có mặt', 'Present'],
  'console.act_absent': ['Vắng', 'Absent'],
  'console.act_undo': ['Hủy', 'Undo'],
  'console.absent_title': ['Báo vắng: {name}', 'Mark absent: {name}'],
  'console.absent_reason': ['Lý do vắng', 'Reason'],
  'console.absent_reason_hint': ['Ví dụ: ốm, đi công tác. Để trống nếu vắng không có lý do.', 'For example: ill, on a work trip. Leave empty if there is no reason.'],
  'console.absent_ok': ['Báo vắng', 'Mark absent'],
  'console.reason_sick': ['Ốm', 'Ill'],
  'console.reason_work': ['Đi công tác', 'On a work trip'],
  'console.reason_family': ['Việc gia đình', 'Family matters'],
  'console.reason_leave': ['Nghỉ phép', 'On leave'],
  'console.undo_confirm': ['Hủy lượt điểm danh của {name}? Lượt điểm danh được đánh dấu đã hủy, không bị xóa.', 'Undo the check-in of {name}? It is marked as annulled, not erased.'],
  'console.cancel_pending_confirm': ['Bỏ lượt điểm danh đang chờ gửi của {name}?', 'Drop the check-in of {name} that is waiting to be sent?'],
  'console.log_title': ['Thao tác gần đây', 'Recent operations'],
  'console.log_empty': ['Chưa có thao tác nào.', 'No operations yet.'],
  'console.log_pending': ['Đang chờ gửi', 'Waiting to be sent'],
  'console.log_checked_in': ['Có mặt lúc {time}', 'Checked in at {time}'],
  'console.log_already': ['Đã điểm danh trước đó lúc {time} tại {point}', 'Already checked in at {time} at {point}'],
  'console.log_already_nopoint': ['Đã điểm danh trước đó lúc {time}', 'Already checked in at {time}'],
  'console.log_done_head_count': ['Đã báo số người', 'Head count reported'],
  'console.log_done_absent': ['Đã báo vắng', 'Marked absent'],
  'console.log_done_undo': ['Đã hủy lượt điểm danh', 'Check-in annulled'],
  'console.log_cancelled': ['Đã bỏ, không gửi', 'Dropped, not sent'],
  'console.log_head': ['Số người ngoài danh sách: {n}', 'People not on any roster: {n}'],
  'console.log_card': ['Thẻ thành viên', 'Member card'],
  'console.details': ['Thông tin điểm cầu và buổi học', 'Point and session details'],
  'console.keep': ['Không, giữ lại', 'No, keep it'],
  'console.undo_ok': ['Hủy lượt điểm danh', 'Undo the check-in'],
  'console.cancel_pending_ok': ['Bỏ lượt đang chờ', 'Drop it'],
  'console.forget_ok': ['Gỡ khỏi máy này', 'Remove from this device'],
  'console.forget_queue': ['Còn {n} thao tác chưa gửi; chúng vẫn được giữ trên máy này.', '{n} operations are not sent yet; they stay on this device.'],

  // API docs
  'docs.title': ['Tài liệu API', 'API documentation'],
  'docs.loading': ['Đang tải tài liệu…', 'Loading the documentation…'],
  'docs.contents': ['Mục lục', 'Contents'],
  'docs.parameters': ['Tham số', 'Parameters'],
  'docs.request_body': ['Dữ liệu gửi lên', 'Request body'],
  'docs.responses': ['Kết quả trả về', 'Responses'],
  'docs.name': ['Tên', 'Name'],
  'docs.in': ['Vị trí', 'In'],
  'docs.type': ['Kiểu', 'Type'],
  'docs.required': ['Bắt buộc', 'Required'],
  'docs.description': ['Mô tả', 'Description'],
  'docs.field': ['Trường', 'Field'],
  'docs.status': ['Mã HTTP', 'Status'],
  'docs.no_body': ['Không có nội dung.', 'No body.'],
  'docs.schemas': ['Kiểu dữ liệu', 'Schemas'],
  'docs.values': ['Giá trị: {values}', 'Values: {values}'],
  'docs.array_of': ['danh sách {type}', 'array of {type}'],
  'docs.auth': ['Xác thực', 'Authentication'],
  'docs.download': ['Tải openapi.json', 'Download openapi.json'],
  'docs.other': ['Khác', 'Other'],

  'http.200': ['Thành công', 'OK'],
  'http.201': ['Đã tạo', 'Created'],
  'http.204': ['Thành công, không có nội dung', 'Done, no content'],
  'http.400': ['Dữ liệu không hợp lệ', 'Invalid request'],
  'http.401': ['Chưa đăng nhập hoặc hết phiên', 'Not signed in'],
  'http.403': ['Không có quyền', 'Forbidden'],
  'http.404': ['Không tìm thấy (hoặc ngoài phạm vi)', 'Not found (or out of scope)'],
  'http.409': ['Xung đột với dữ liệu hiện có', 'Conflict'],
  'http.410': ['Không còn hiệu lực', 'Gone'],
  'http.413': ['Dữ liệu quá lớn', 'Payload too large'],
  'http.415': ['Sai kiểu dữ liệu', 'Unsupported media type'],
  'http.422': ['Không xử lý được dữ liệu', 'Unprocessable'],
  'http.429': ['Gửi quá nhiều yêu cầu, hãy thử lại sau', 'Too many requests'],
  'http.500': ['Lỗi hệ thống', 'Server error'],
  'http.503': ['Máy chủ đang bận', 'Service unavailable'],

  // 404
  'nf.title': ['Không tìm thấy trang', 'Page not found'],
  'nf.lead': ['Địa chỉ này không có trên hệ thống. Có thể đường dẫn đã bị gõ sai hoặc trang đã được chuyển đi.', 'There is nothing at this address. The link may be mistyped, or the page has moved.'],
  'nf.alt': ['Page not found — go to the home page.', 'Không tìm thấy trang — về trang chủ.'],
  'nf.alt_lang': ['en', 'vi'],
  'nf.operator': ['Nếu bạn là người phụ trách điểm cầu, hãy mở lại đúng đường dẫn điểm cầu được ban tổ chức gửi.', 'If you operate a connection point, open the exact point link the organizers sent you.'],
};

const KEY = 'diemcau.lang';
const missing = new Set();

export function lang() {
  let l = null;
  try { l = localStorage.getItem(KEY); } catch { /* private mode */ }
  return l === 'en' ? 'en' : 'vi';
}

export function has(key) {
  return Object.prototype.hasOwnProperty.call(DICT, key);
}

/** The text of `key` in the current language, with {name} placeholders filled. */
export function t(key, vars) {
  const entry = DICT[key];
  if (!entry) {
    missing.add(key);
    globalThis.__i18nMissing = [...missing];
    return key;
  }
  let s = entry[lang() === 'en' ? 1 : 0];
  if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
  return s;
}

function readVars(el) {
  const raw = el.getAttribute('data-i18n-vars');
  if (!raw) return undefined;
  try { return JSON.parse(raw); } catch { return undefined; }
}

/** Rewrites every element under `root` that carries data-i18n / data-i18n-attrs. */
export function applyI18n(root = document) {
  const vars = (el) => readVars(el);
  if (root.querySelectorAll) {
    const nodes = [...root.querySelectorAll('[data-i18n],[data-i18n-attrs]')];
    if (root.matches && root.matches('[data-i18n],[data-i18n-attrs]')) nodes.push(root);
    for (const el of nodes) {
      const key = el.getAttribute('data-i18n');
      if (key) el.textContent = t(key, vars(el));
      const attrs = el.getAttribute('data-i18n-attrs');
      if (attrs) {
        for (const pair of attrs.split(';')) {
          const [attr, k] = pair.split(':');
          if (attr && k) el.setAttribute(attr.trim(), t(k.trim(), vars(el)));
        }
      }
    }
  }
  if (root === document) {
    document.documentElement.lang = lang();
    const titleKey = document.documentElement.getAttribute('data-title');
    if (titleKey) document.title = `${t(titleKey)} · diemcau`;
  }
}

export function setLang(l) {
  try { localStorage.setItem(KEY, l === 'en' ? 'en' : 'vi'); } catch { /* ignore */ }
  applyI18n(document);
  syncToggles();
  document.dispatchEvent(new CustomEvent('langchange', { detail: lang() }));
}

function syncToggles() {
  for (const b of document.querySelectorAll('[data-lang]')) {
    b.setAttribute('aria-pressed', String(b.getAttribute('data-lang') === lang()));
  }
}

/** Wires the VI/EN buttons (elements with data-lang) and translates the page. */
export function initI18n() {
  for (const b of document.querySelectorAll('[data-lang]')) {
    b.addEventListener('click', () => setLang(b.getAttribute('data-lang')));
  }
  applyI18n(document);
  syncToggles();
}
