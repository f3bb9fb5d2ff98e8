import type { TestUserName } from './bed.js';

/** Unprivileged users that exist only inside the test beds. */
export interface TestUser {
  name: TestUserName;
  uid: number;
  gid: number;
  home: string;
  /** Supplementary groups from the user database, besides the primary one. */
  extraGroups: { name: string; gid: number }[];
}

export const TEST_USERS: Record<TestUserName, TestUser> = {
  sscalice: {
    name: 'sscalice',
    uid: 2001,
    gid: 2001,
    home: '/home/sscalice',
    extraGroups: [{ name: 'sscshared', gid: 2100 }],
  },
  sscbob: {
    name: 'sscbob',
    uid: 2002,
    gid: 2002,
    home: '/home/sscbob',
    extraGroups: [{ name: 'sscshared', gid: 2100 }],
  },
};

/** Where install.sh puts ssc inside every bed (default prefix). */
export const SSC_PREFIX = '/usr/local';
export const SSC_BIN = `${SSC_PREFIX}/bin/ssc`;
