import PacerPostgres
import PostgresNIO
import Testing

/// A database URL is read as libpq reads it, and no message about one shows its password.
/// On 991d846 `postgres:/app:S3cretPw@host/pacer` and
/// `postgres://app:2024/S3cretPw@host:1/pacer` printed the password in their errors.
@Suite struct DatabaseURLTests {
    @Test(arguments: [
        "postgres:/app:S3cretPw@host/pacer",
        "postgres://app:2024/S3cretPw@host:1/pacer/more",
        "postgres//app:S3cretPw@host/pacer",
        "mysql://app:S3cretPw@host/pacer",
        "postgres://app:S3cretPw@host:99999/pacer",
        "postgres://app:S3cretPw@host:port/pacer",
        "postgres://app:S3cretPw@/pacer",
        "postgres://app:S3cretPw@[::1/pacer",
        "S3cretPw",
    ])
    func aURLThatCannotBeUsedIsRefusedWithoutItsPassword(text: String) {
        do {
            let url = try DatabaseURL(text, environment: [:])
            Issue.record("read as \(url)")
        } catch {
            #expect(!"\(error)".contains("S3cretPw"), "\(error)")
            #expect(!"\(error)".isEmpty)
        }
    }

    @Test func theUserInformationEndsAtTheLastAt() throws {
        let url = try DatabaseURL("postgres://app:2024/S3cret@Pw@db.internal:6543/pacer", environment: [:])
        #expect(url.user == "app")
        #expect(url.host == "db.internal")
        #expect(url.port == 6543)
        #expect(url.database == "pacer")
        #expect(url.clientConfiguration.password == "2024/S3cret@Pw")
        #expect(!url.description.contains("S3cret"))
    }

    @Test(arguments: [
        ("postgres://h", "postgres", "h", 5432, "postgres"),
        ("postgresql://u@h:7/d", "u", "h", 7, "d"),
        ("postgres://u%40x:p%2Fq@[::1]:5433/my%20db?sslmode=disable", "u@x", "::1", 5433, "my db"),
        ("postgres://u@h/", "u", "h", 5432, "u"),
    ])
    func readsEachPart(text: String, user: String, host: String, port: Int, database: String) throws {
        let url = try DatabaseURL(text, environment: [:])
        #expect(url.user == user)
        #expect(url.host == host)
        #expect(url.port == port)
        #expect(url.database == database)
    }

    @Test func thePasswordMayComeFromTheEnvironment() throws {
        let url = try DatabaseURL("postgres://u@h/d", environment: ["PGPASSWORD": "pw"])
        #expect(url.clientConfiguration.password == "pw")
        let given = try DatabaseURL("postgres://u:p%2F@h/d", environment: ["PGPASSWORD": "pw"])
        #expect(given.clientConfiguration.password == "p/")
        #expect(try DatabaseURL("postgres://u@h/d?sslmode=require", environment: [:]).sslMode == .require)
    }
}
