import { Controller, Get } from '@nestjs/common';

@Controller('users')
export class UsersController {
  @Get()
  readUsers(): string[] {
    return ['Rick', 'Morty'];
  }
}
